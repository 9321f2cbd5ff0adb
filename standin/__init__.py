"""A local stand-in for the Sangoma CX API over real HTTP, run as ``python -m standin``; standard library only.

A test double, not part of the product: only tests, the bench and ``manage.py runconsole`` (as a child process)
use it. Import what you need from its modules (``standin.server.start_sandbox``, ``standin.config``); this
package file imports none of them, so no module of the package imports it back.
"""
