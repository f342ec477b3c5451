# Shared by scripts/test and scripts/demo: install Debian packages that are
# missing, as root, with one `apt-get update` first.
install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: need root to install ${missing[*]} (or install them yourself)" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# What building embargo needs: a C toolchain, and libclang plus OpenSSL
# headers for sequoia's OpenSSL backend (its bindings come from bindgen).
BUILD_PACKAGES=(build-essential pkg-config libssl-dev libclang-dev)

# Postfix's smtp-sink, the SMTP server the fan-out benchmark sends to.
# Preseeded so installing it does not set up a mail server.
install_smtp_sink() {
  if [ ! -x /usr/sbin/smtp-sink ]; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    fi
    install_missing postfix
  fi
}
