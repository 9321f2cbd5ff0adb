"""The console's top: the operator CLI (``manage.py cx``), ``manage.py runconsole`` and the demo it sets up.

The one app allowed to import every other (and to start the stand-in); no other app imports it.
"""
