"""How the client finds the coordinator, its token and certificates.

The same order as the `shardex` CLI (cli/client_config.h, common/token.h);
the first that applies wins:

  address:      the `coordinator` argument, $SHARDEX_COORDINATOR, the
                `coordinator` of `shardex login`'s config, 127.0.0.1:7473
  certificates: the `tls_ca`/`tls_cert`/`tls_key` arguments (any one given
                means only these are used), $SHARDEX_TLS_CA/$SHARDEX_TLS_CERT/
                $SHARDEX_TLS_KEY, the login config's (only when dialling the
                config's coordinator), none (plaintext)
  token:        the `token_file` argument, $SHARDEX_TOKEN_FILE, the
                coordinator's default state directory's `token` (on the
                coordinator's own host), none (a certificate alone is enough)

The login config is $XDG_CONFIG_HOME/shardex/config (else
~/.config/shardex/config); the default state directory is
$XDG_DATA_HOME/shardex/coordinator (else ~/.local/share/shardex/coordinator).
Unlike the CLI, this module does not renew the login certificate: any
`shardex` command does that when it is due.
"""
import os
import stat
from dataclasses import dataclass
from typing import Optional

DEFAULT_COORDINATOR = "127.0.0.1:7473"


class ConfigError(Exception):
    """A token or config file that cannot be used; the message names it."""


@dataclass
class Tls:
    """PEM file paths; all empty means plaintext."""
    ca: str = ""
    cert: str = ""
    key: str = ""

    def any(self) -> bool:
        return bool(self.ca or self.cert or self.key)


@dataclass
class Settings:
    """What a client dials with, after the lookup order above."""
    coordinator: str
    tls: Tls
    token_file: str  # empty: no token


def _env(name: str) -> str:
    return os.environ.get(name, "")


def _xdg_dir(xdg_var: str, home_dir: str, suffix: str, tmp_suffix: str) -> str:
    # Mirrors XdgDir in cli/client_config.cc: only an absolute $XDG_* counts.
    xdg = _env(xdg_var)
    if xdg.startswith("/"):
        return f"{xdg}/{suffix}"
    home = _env("HOME")
    if home:
        return f"{home}/{home_dir}/{suffix}"
    return f"/tmp/shardex-{os.getuid()}/{tmp_suffix}"


def client_identity_dir() -> str:
    """Where `shardex login` keeps its config and certificate."""
    return _xdg_dir("XDG_CONFIG_HOME", ".config", "shardex", "config")


def default_state_dir() -> str:
    """The coordinator's default state directory (common/state_dir.cc)."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share", "shardex/coordinator",
                    "coordinator")


def read_login_config(directory: Optional[str] = None):
    """Returns (coordinator, Tls) from DIR/config, or None if there is none."""
    path = os.path.join(directory or client_identity_dir(), "config")
    if not os.path.exists(path):
        return None
    coordinator, tls = "", Tls()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key == "coordinator":
                coordinator = value
            elif key in ("tls_ca", "tls_cert", "tls_key"):
                setattr(tls, key[4:], value)
            else:
                raise ConfigError(f'{path}: unknown setting "{key}"')
    return coordinator, tls


def default_token_file() -> str:
    """$SHARDEX_TOKEN_FILE, else <default state dir>/token if it exists."""
    env = _env("SHARDEX_TOKEN_FILE")
    if env:
        return env
    path = default_state_dir() + "/token"
    return path if os.path.exists(path) else ""


def read_token_file(path: str) -> str:
    """The token in `path`, checked like common/token.cc does."""
    try:
        mode = os.stat(path).st_mode
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise ConfigError(f"token file {path}: {e.strerror}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"token file {path} is readable or writable by "
                          f"others; run: chmod 600 {path}")
    if not 16 <= len(token) <= 128:
        raise ConfigError(f"token file {path}: a token is 16 to 128 "
                          f"characters, not {len(token)}")
    if any(not c.isprintable() or c.isspace() or ord(c) > 126 for c in token):
        raise ConfigError(f"token file {path}: the token has a space or an "
                          "unprintable character")
    return token


def resolve(coordinator: Optional[str] = None,
            token_file: Optional[str] = None,
            tls_ca: Optional[str] = None,
            tls_cert: Optional[str] = None,
            tls_key: Optional[str] = None) -> Settings:
    """Applies the lookup order of the module docstring; arguments play the
    CLI's flags (None or "" means not given)."""
    login = read_login_config()
    if coordinator:
        address = coordinator
    elif _env("SHARDEX_COORDINATOR"):
        address = _env("SHARDEX_COORDINATOR")
    elif login is not None:
        address = login[0]
    else:
        address = DEFAULT_COORDINATOR
    tls = Tls(tls_ca or "", tls_cert or "", tls_key or "")
    if not tls.any():
        env = Tls(_env("SHARDEX_TLS_CA"), _env("SHARDEX_TLS_CERT"),
                  _env("SHARDEX_TLS_KEY"))
        if env.any():
            tls = env
        elif login is not None and login[0] == address:
            tls = login[1]
    return Settings(address, tls, token_file or default_token_file())
