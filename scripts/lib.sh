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

# A throwaway PostgreSQL cluster for the tests and benchmarks: `initdb` in
# a temporary folder owned by the `postgres` OS user (the server refuses to
# run as root), listening on 127.0.0.1 on a free port with its socket in
# that folder, trust authentication for local and loopback connections,
# and `fsync=on` because the tests check durability. `pg_start` exports
# EMBARGO_TEST_POSTGRES (the admin URL) and PG_DIR; `pg_stop` stops the
# server and removes the folder. Callers set a trap that runs `pg_stop`.
# (The server package brings psql and pg_dump with it.)
PG_PACKAGES=(postgresql)
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ]; then
    echo "error: no PostgreSQL server under /usr/lib/postgresql (install postgresql)" >&2
    return 1
  fi
  echo "$dir"
}
pg_start() {
  local bin port
  bin=$(pg_bin) || return 1
  PG_DIR=$(mktemp -d /tmp/embargo-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  mkdir "$PG_DIR/data" "$PG_DIR/socket"
  chown -R postgres:postgres "$PG_DIR"
  # A free port: bind port 0 and read which one the kernel chose.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # The postgres user may not be allowed into the caller's folder (a
  # clone under /root): its tools run from the cluster's own folder.
  (cd "$PG_DIR" && runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -U postgres \
    --auth=trust --encoding=UTF8 --locale=C.UTF-8) >"$PG_DIR/initdb.log" 2>&1 || {
    cat "$PG_DIR/initdb.log" >&2
    return 1
  }
  (cd "$PG_DIR" && runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_DIR/socket -c fsync=on -c max_connections=300" \
    start) >/dev/null || {
    cat "$PG_DIR/server.log" >&2
    return 1
  }
  export PG_DIR
  export EMBARGO_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
}
pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    local bin
    bin=$(pg_bin) || return 0
    (cd "$PG_DIR" && runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop) >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=
  fi
}
