# Sourced by test.sh: the browser tests drive Debian's Chromium through
# Playwright (Playwright's own browser download is not used). Install it when
# missing and we can; otherwise say exactly what to do.
ensure_chromium() {
  if [ -n "${HINDSIGHT_CHROMIUM:-}" ] && [ -x "$HINDSIGHT_CHROMIUM" ]; then return; fi
  if command -v chromium >/dev/null 2>&1; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests …"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    return
  fi
  echo "The browser tests need Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium)" >&2
  echo "or point HINDSIGHT_CHROMIUM at a Chromium or Chrome binary." >&2
  exit 1
}
