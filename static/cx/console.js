/* The console's small page behaviours (loaded by templates/admin/base_site.html on every page).
   Filter dropdowns (see console.css): they start closed, one is open at a time, and a click outside or
   Escape closes it. Django renders them open and filters.js may reopen some from the session: both undone. */
'use strict';
{
    const bar = document.getElementById('changelist-filter');
    if (bar) {
        const dropdowns = Array.from(bar.querySelectorAll('details'));
        dropdowns.forEach((d) => d.removeAttribute('open'));
        dropdowns.forEach((d) => d.addEventListener('toggle', () => {
            if (d.open) dropdowns.forEach((other) => { if (other !== d) other.removeAttribute('open'); });
        }));
        document.addEventListener('click', (event) => {
            if (!bar.contains(event.target)) dropdowns.forEach((d) => d.removeAttribute('open'));
        });
        document.addEventListener('keydown', (event) => {
            if (event.key === 'Escape') dropdowns.forEach((d) => d.removeAttribute('open'));
        });
        bar.classList.add('cx-ready');
    }
}
