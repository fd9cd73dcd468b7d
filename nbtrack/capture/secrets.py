"""Redaction: what leaves the process for the store passes through here first.

Trackers leak secrets through environment variables, command lines, git remotes
and VCS requirements. Three lines of defence, in order:

1. **Allow-list** (``redact_env``): only environment variables known to describe
   the environment (``PATH``, ``CUDA_*``, ``PYTHON*`` ...) are kept at all. The
   *names* of the others are not kept either: a name can itself say too much
   (``ACME_PROD_DB_HOST``), and a count would tell nobody anything. Users add
   names with ``NBTRACK_ENV_ALLOW="MY_VAR,MY_PREFIX_*"``.
2. **Names** (``is_secret_name``): a kept variable, flag or ``NAME=value`` whose
   name smells of a secret has its value replaced by ``***REDACTED***``.
3. **Values** (``looks_like_secret``, ``strip_url_credentials``): known key
   formats, PEM private keys, long high-entropy strings and URL user-info are
   removed wherever they appear.

Kept on purpose: UUIDs (GPU, kernel and run ids are UUIDs, and a key minted as
a UUID sits in a secret-named variable, caught by line 2) and 40/64-character
lowercase hex (git commits and sha256 digests, which reproduction needs; an
old-style 40-hex GitHub token is caught by name, flag or URL, not bare).

>>> redact_text("git clone https://me:ghp_abc@github.com/x --token=s3cr3t")
'git clone https://***@github.com/x --token=***REDACTED***'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache

REDACTED = "***REDACTED***"

# a name containing one of these anywhere is secret (over-matching KEYBOARD or
# GIT_AUTHOR_NAME costs a value, under-matching costs a credential)
_SECRET_PARTS = (
    "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "KEY", "CREDENTIAL",
    "AUTH", "PRIVATE", "COOKIE", "SIGNATURE", "WEBHOOK",
)  # fmt: skip
# ... and one of these only as a whole word (PASS in BYPASS, not in PASSTHROUGH)
_SECRET_WORDS = frozenset(
    {"PASS", "PWD", "PW", "PIN", "OTP", "DSN", "SESSION", "SID", "SIG", "JWT", "BEARER",
     "SALT", "HMAC", "SAS", "CONNSTR", "CRED", "CREDS"}
)  # fmt: skip
# well-known variables whose names match the above but whose values are not secret
_NOT_SECRET = frozenset(
    {"PWD", "OLDPWD", "JPY_SESSION_NAME", "XDG_SESSION_ID", "XDG_SESSION_TYPE",
     "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP", "DBUS_SESSION_BUS_ADDRESS"}
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

_ALLOW_NAMES = frozenset(
    {"PATH", "HOME", "SHELL", "LANG", "LANGUAGE", "USER", "LOGNAME", "HOSTNAME", "TZ",
     "TERM", "TMPDIR", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "JPY_SESSION_NAME",
     "JPY_PARENT_PID", "MPLBACKEND", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
     "VECLIB_MAXIMUM_THREADS", "CONTAINER_NAME"}
)  # fmt: skip
_ALLOW_PREFIXES = (
    "LC_", "PYTHON", "CONDA_", "MAMBA_", "PIP_", "UV_", "CUDA_", "CUDNN_", "NVIDIA_",
    "NCCL_", "ROCM_", "HIP_", "OMP_", "MKL_", "KMP_", "HF_", "TRANSFORMERS_", "TORCH_",
    "PYTORCH_", "TF_", "XLA_", "JAX_", "JUPYTER_", "NBTRACK_", "SLURM_", "PBS_",
    "KUBERNETES_", "SAGEMAKER_", "COLAB_", "KAGGLE_",
)  # fmt: skip

_KEY_FORMATS = re.compile(  # the lookbehind first: 15x faster than a \b in each branch
    r"""(?<![A-Za-z0-9])(?:
      (?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Za-z])  # AWS
    | gh[opusr]_[A-Za-z0-9]{30,}                                         # GitHub
    | github_pat_[A-Za-z0-9_]{22,}
    | glpat-[A-Za-z0-9_-]{20,}                                           # GitLab
    | sk-[A-Za-z0-9_-]{20,}                                              # OpenAI, Anthropic
    | [sr]k_(?:live|test)_[A-Za-z0-9]{16,}                               # Stripe
    | xox[abposre]-[A-Za-z0-9-]{10,}                                     # Slack
    | hooks\.slack\.com/services/[A-Za-z0-9/]+
    | hf_[A-Za-z0-9]{30,}                                                # Hugging Face
    | npm_[A-Za-z0-9]{30,}
    | pypi-[A-Za-z0-9_-]{50,}
    | AIza[0-9A-Za-z_-]{35}                                              # Google
    | eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}     # JWT
    )""",
    re.VERBOSE,
)
_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGEST = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

# scheme://userinfo@ : greedy up to the last '@' before the path, so 'p@ss' is covered
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#@'\"<>]*(?:@[^\s/?#@'\"<>]*)*)@"
)
_URL_QUERY = re.compile(r"([?&;])([A-Za-z0-9_.-]+)=([^&#\s'\"<>]*)")
# --name value / --name=value and NAME=value / name: value, for any secret-looking name
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)(=|\s+)(?!--)(\"[^\"]*\"|'[^']*'|[^\s\"']+)")
_ASSIGN = re.compile(
    r"(?<![\w.-])([A-Za-z_][\w.-]*|\"[A-Za-z_][\w.-]*\"|'[A-Za-z_][\w.-]*')(\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;}&]+)"
)
_SCHEMES = ("Bearer", "Basic", "Token", "Digest")
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{4,}")


@lru_cache(maxsize=4096)  # the same few names recur in every command and environment
def is_secret_name(name: str) -> bool:
    """True for names like ``AWS_SECRET_ACCESS_KEY``, ``db_pass``, ``apiKey``, ``SENTRY_DSN``."""
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    if any(part in upper for part in _SECRET_PARTS):
        return True
    words = {w.upper() for w in _WORD.findall(name)}
    return not words.isdisjoint(_SECRET_WORDS) or any(w.endswith("PASS") for w in words)


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _high_entropy(token: str) -> bool:
    """A long random-looking string: hex, or base64(url) with the spread of a key.

    The base64 bar is the entropy expected of ``n`` random draws from 64 symbols
    (Miller-Madow) less a margin: it misses <1% of random 32-char keys and passes
    long CamelCase identifiers, whose letters repeat more (measured in the tests).
    """
    token = token.strip("=")
    n = len(token)
    if n < 32 or token[0] == "/" or _UUID.fullmatch(token) or _DIGEST.fullmatch(token):
        return False  # absolute paths, ids and digests are kept (see the module docstring)
    if _HEX.fullmatch(token):
        return _entropy(token) >= 3.0
    if not (_has(token, str.islower) and _has(token, str.isupper) and _has(token, str.isdigit)):
        return False
    return _entropy(token) >= 6 - 63 / (2 * n * math.log(2)) - 0.45


def _has(token: str, test) -> bool:
    return any(test(c) for c in token)


def looks_like_secret(value: str) -> bool:
    """True when ``value`` holds a known key format, a private key or a random-looking token.

    >>> looks_like_secret("ghp_" + "a1B2" * 9), looks_like_secret("/usr/local/bin:/usr/bin")
    (True, False)
    """
    if not value:
        return False
    if _KEY_FORMATS.search(value) or "PRIVATE KEY-----" in value:
        return True
    if _URL_USERINFO.sub(_userinfo, value) != value:
        return True
    return any(_high_entropy(m.group()) for m in _LONG_TOKEN.finditer(value))


def _userinfo(m: re.Match) -> str:
    return m.group() if m.group(2) in ("", "git") else m.group(1) + "***@"


def _query(m: re.Match) -> str:
    sep, name, value = m.groups()
    return f"{sep}{name}={REDACTED}" if value and is_secret_name(name) else m.group()


def strip_url_credentials(text: str) -> str:
    """Remove user-info and secret query parameters from every URL in ``text``.

    >>> strip_url_credentials("git+https://user:tok@github.com/o/r.git@v1")
    'git+https://***@github.com/o/r.git@v1'
    """
    if "://" not in text:
        return text
    text = _URL_USERINFO.sub(_userinfo, text)
    return _URL_QUERY.sub(_query, text) if "=" in text else text


def _redact_value(value: str) -> str:
    value = strip_url_credentials(value)
    return REDACTED if looks_like_secret(value) else value


def redact_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed variables of ``environ``, secret values replaced, sorted by name."""
    extra = [p.strip() for p in environ.get("NBTRACK_ENV_ALLOW", "").split(",") if p.strip()]
    names = _ALLOW_NAMES.union(p for p in extra if not p.endswith("*"))
    prefixes = _ALLOW_PREFIXES + tuple(p[:-1] for p in extra if p.endswith("*") and len(p) > 1)
    kept = {}
    for name in sorted(environ):
        if name in names or name.startswith(prefixes):
            value = environ[name]
            kept[name] = REDACTED if is_secret_name(name) else _redact_value(value)
    return kept


def _flag(m: re.Match) -> str:
    name, sep, value = m.groups()
    return f"{name}{sep}{REDACTED}" if is_secret_name(name.lstrip("-")) else m.group()


def _assign(m: re.Match) -> str:
    name, sep, value = m.groups()
    if not is_secret_name(name.strip("\"'")) or value.startswith(REDACTED) or value in _SCHEMES:
        return m.group()  # an auth scheme's credential was redacted by _AUTH_SCHEME
    quote = value[0] if value[0] in "\"'" else ""
    return f"{name}{sep}{quote}{REDACTED}{quote}"


def _token(m: re.Match) -> str:
    return REDACTED if _high_entropy(m.group()) else m.group()


def redact_text(text: str) -> str:
    """A command line or output with credentials, secret flags/assignments and keys removed.

    >>> redact_text("AWS_SECRET_ACCESS_KEY=abc python train.py --password hunter2")
    'AWS_SECRET_ACCESS_KEY=***REDACTED*** python train.py --password ***REDACTED***'
    """
    if not text:
        return text
    text = _PEM.sub(REDACTED, text)
    text = strip_url_credentials(text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _FLAG.sub(_flag, text)
    text = _ASSIGN.sub(_assign, text)
    text = _KEY_FORMATS.sub(REDACTED, text)
    return _LONG_TOKEN.sub(_token, text)


def redact_known_values(text: str, environ: Mapping[str, str]) -> str:
    """Replace the values of secret environment variables wherever they appear in
    ``text`` (a command's output that echoed a token), then apply ``redact_text``."""
    values = sorted(
        {v for k, v in environ.items() if len(v) >= 6 and (is_secret_name(k) or looks_like_secret(v))},
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, REDACTED)
    return redact_text(text)
