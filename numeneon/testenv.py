"""pytest plugin (`-p numeneon.testenv` in pytest.ini): environment defaults for tests.

Loaded before pytest-django reads the settings, which a conftest.py would be too late for.
"""

import os

os.environ.setdefault("SECRET_KEY", "numeneon-tests-only-not-a-secret")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
# Suites sign up hundreds of users from one address; throttle tests switch this back on.
os.environ.setdefault("THROTTLE_ENABLED", "0")
# Test clients speak plain HTTP to the app; production redirects to HTTPS.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
