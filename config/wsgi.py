"""The WSGI application: what gunicorn serves in production (``gunicorn config.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Settings give a web process a statement timeout (WEB_STATEMENT_TIMEOUT) that workers and
# management commands must not have. The mark lasts only while settings load, so processes
# this one starts (a test suite's workers, say) do not inherit it. Where settings were loaded
# before (runserver, tests), it changes nothing.
WEB_PROCESS_MARK = "HINDSIGHT_WEB_PROCESS"
os.environ[WEB_PROCESS_MARK] = "1"
try:
    application = get_wsgi_application()
finally:
    del os.environ[WEB_PROCESS_MARK]
