"""The /docs and /ui pages in headless Chromium (select with -m browser)."""
