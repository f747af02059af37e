"""The live page at ``/`` through the real server (gunicorn + gevent), in Debian's Chromium
driven by Playwright, one behaviour a test."""
