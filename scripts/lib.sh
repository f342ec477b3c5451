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

# cargo-deb, which builds the Debian package (scripts/package): the release
# that script and [package.metadata.deb] are written for. No Debian package
# or prebuilt binary of a release that reads edition 2024 is at hand, so it
# is compiled (about 45 s of two cores); scripts/test starts this in the
# background while the lints run.
CARGO_DEB_VERSION=3.8.0
install_cargo_deb() {
  if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "== cargo install cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked --quiet --force cargo-deb --version "$CARGO_DEB_VERSION"
  fi
}
