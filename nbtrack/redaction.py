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


# user-chosen names (params, flags, assignments in code) are read word by word: a word that
# is, or ends in, one of these is secret (githubtoken, db_pass), ...
_STRONG_ENDS = ("TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "PASS",
                "APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "CREDENTIAL", "CREDENTIALS")
_STRONG = frozenset({"PWD", "PW", "CRED", "CREDS", "AUTH", "AUTHORIZATION", "AUTHTOKEN",
                     "COOKIE", "COOKIES", "SIGNATURE", "SIG", "DSN", "JWT", "BEARER", "HMAC",
                     "SALT", "OTP", "PIN", "SAS", "CONNSTR", "WEBHOOK", "SESSION", "SID",
                     "PRIVATE"})
# ... "key" only with a word that makes it a credential (sort_key, key_dim are not) ...
_KEY_QUALIFIERS = frozenset({"API", "ACCESS", "SECRET", "PRIVATE", "SIGNING", "ENCRYPTION",
                             "LICENSE", "AUTH", "SSH", "GPG", "PGP", "MASTER", "CLIENT",
                             "SERVICE", "ACCOUNT", "SUBSCRIPTION", "DEPLOY", "APP", "WRITE"})
# ... and "token" is a tokenizer's word too (pad_token, max_tokens, token_count)
_TOKEN_NOT_SECRET = frozenset({"PAD", "BOS", "EOS", "UNK", "CLS", "SEP", "MASK", "SPECIAL",
                               "MAX", "MIN", "NUM", "TOTAL", "COUNT", "COUNTS", "IDS", "LEN",
                               "LENGTH", "TYPE", "TYPES", "LIMIT", "SIZE", "BUDGET", "USAGE",
                               "START", "END", "STOP", "NEW", "PROMPT", "OUTPUT", "INPUT"})


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Stricter than ``is_secret_name``, for names people choose (params, metadata keys,
    command-line flags, names in code): ``api_key``, ``db_password``, ``--token``,
    ``GITHUB_TOKEN`` are secret; ``max_tokens``, ``pad_token``, ``tokenizer``,
    ``sort_key``, ``author`` are not."""
    if name.upper() in _NOT_SECRET:
        return False
    words = [w.upper() for w in _WORD.findall(name)]
    upper = set(words)
    for w in words:
        if w in _STRONG or (w.endswith(_STRONG_ENDS) and w not in ("BYPASS", "COMPASS")):
            if w.endswith("TOKEN") and w == "TOKEN" and not upper.isdisjoint(_TOKEN_NOT_SECRET):
                continue
            return True
        if w in ("KEY", "KEYS") and not upper.isdisjoint(_KEY_QUALIFIERS):
            return True  # a bare "key" is a dict's or a sort's far more often
    return False


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
    return f"{sep}{name}={REDACTED}" if value and is_secret_key(name) else m.group()


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
    """An allow-listed variable's value, or a param's text: credentials in URLs removed,
    a secret-looking value replaced whole, flags and assignments inside it redacted
    (``SLURM_JOB_NAME="train --db-password=X"``)."""
    value = strip_url_credentials(value)
    return REDACTED if looks_like_secret(value) else redact_text(value)


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


def _secret_pair(name: str, value: object) -> bool:
    """Whether ``value``, given to ``name`` (a flag, param, key or variable), is withheld."""
    return is_secret_key(name) or _keyed_credential(name, value)


def _flag(m: re.Match) -> str:
    name, sep, value = m.groups()
    return f"{name}{sep}{REDACTED}" if _secret_pair(name.lstrip("-"), value.strip("\"'")) else m.group()


def _assign(m: re.Match) -> str:
    name, sep, value = m.groups()
    if not _secret_pair(name.strip("\"'"), value.strip("\"'")) or value.startswith(REDACTED) \
            or value in _SCHEMES:
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


# ---------------------------------------------------------------- structured values
def redact_argv(argv: list[str]) -> list[str]:
    """A command line as a list: each element redacted, and the element after a secret
    flag given on its own (``["--api-key", "VALUE"]``) replaced too."""
    out = [redact_text(a) if isinstance(a, str) else a for a in argv]
    for i, arg in enumerate(argv[:-1]):
        if (isinstance(arg, str) and arg.startswith("-") and "=" not in arg
                and _secret_pair(arg.lstrip("-"), argv[i + 1]) and not str(argv[i + 1]).startswith("-")):
            out[i + 1] = REDACTED
    return out


def redact_value(value: object, secret: bool = False) -> object:
    """A JSON value with every secret removed: under a secret-like key (``api_key``,
    ``password``) every scalar becomes ``REDACTED``; other text is redacted as
    ``redact_text`` does. Keys are kept, so a run says which value it withheld."""
    if isinstance(value, dict):
        return {k: redact_value(v, secret or (isinstance(k, str) and _secret_pair(k, v)))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, secret) for v in value]
    if secret and value is not None and value != "" and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str):
        return _redact_value(value)
    return value


def redact_params(flat: dict) -> dict:
    """Flat params (dotted keys): a key whose last part names a secret loses its value."""
    return {k: redact_value(v, _secret_pair(k.rsplit(".", 1)[-1], v) or is_secret_key(k))
            for k, v in flat.items()}


# ---------------------------------------------------------------- cell sources
# a cheap first look: most cells mention nothing secret and are kept as they are
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


_KEY_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
                 "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk-", "k_live_",
                 "k_test_", "xox", "hooks.slack", "hf_", "npm_", "pypi-", "AIza", "eyJ")


def _needs_look(text: str) -> bool:
    if "://" in text or "PRIVATE KEY" in text:
        return True
    if any(p in text for p in _KEY_PREFIXES) and _KEY_FORMATS.search(text):
        return True
    if any(_high_entropy(m.group()) for m in _LONG_TOKEN.finditer(text)):
        return True
    if "key" in text and _KEYED.search(text):  # key="...": looked at literal by literal
        return True
    return any(map(is_secret_key, set(_IDENT.findall(text))))
_MAGIC = re.compile(r"^\s*(?:[!%]|[\w.,\s]+=\s*[!%])")
_ENV_MAGIC = re.compile(r"((?:^|\n)\s*%(?:set_)?env\s+)([A-Za-z_]\w*)(\s+|\s*=\s*)(\S[^\n]*)")
_PY_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%track", "%%prun", "%%python")


def redact_source(source: str) -> str:
    """A notebook cell with its secrets removed and its code still runnable.

    Python lines: a string literal that holds a secret (a key format, credentials in a
    URL, a token) or is given to a secret-like name (``api_key = "..."``,
    ``connect(password="...")``, ``{"token": "..."}``, ``os.environ["MY_TOKEN"] =
    "..."``) keeps its quotes and holds ``REDACTED``; comments are redacted as text;
    expressions are never touched (``password = os.environ["PW"]`` stays). Shell and
    magic lines (``!curl ...``, ``%env NAME=value``, ``%%bash`` cells) are redacted as
    command lines. The same text redacted twice is unchanged.
    """
    if not source or not _needs_look(source):
        return source
    return _redact_source(source)


@lru_cache(maxsize=512)  # a cell run again is redacted once
def _redact_source(source: str) -> str:
    head = source.lstrip()
    if head.startswith("%%"):
        first, sep, body = source.partition("\n")
        if first.strip().split()[0] in _PY_CELL_MAGICS:
            return redact_text(first) + sep + redact_source(body)
        return redact_text(source)  # another language (bash, writefile ...): text
    out: list[str] = []
    chunk: list[str] = []
    for line in source.splitlines(keepends=True):
        if _MAGIC.match(line) and not chunk_open(chunk):
            if chunk:
                out.append(_redact_python("".join(chunk)))
                chunk = []
            out.append(_redact_magic(line))
        else:
            chunk.append(line)
    if chunk:
        out.append(_redact_python("".join(chunk)))
    return "".join(out)


def chunk_open(chunk: list[str]) -> bool:
    """True when ``chunk`` ends inside a bracket or a triple-quoted string, so the next
    line belongs to it even if it starts with ``!`` or ``%``."""
    text = "".join(chunk)
    return text.count('"""') % 2 == 1 or text.count("'''") % 2 == 1 or \
        sum(text.count(c) for c in "([{") > sum(text.count(c) for c in ")]}")


def _redact_magic(line: str) -> str:
    line = _ENV_MAGIC.sub(
        lambda m: m.group(1) + m.group(2) + m.group(3)
        + (REDACTED if is_secret_key(m.group(2)) and not m.group(4).startswith(REDACTED)
           else m.group(4)), line)
    return redact_text(line)


def _redact_values(text: str) -> str:
    """Only the patterns that never change what code means (values inside literals)."""
    text = _PEM.sub(REDACTED, text)
    text = strip_url_credentials(text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _KEY_FORMATS.sub(REDACTED, text)
    return _LONG_TOKEN.sub(_token, text)


def _tokens(code: str):
    import io
    import tokenize

    try:
        return list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None


_SKIP = frozenset({"NL", "NEWLINE", "COMMENT", "INDENT", "DEDENT", "ENCODING", "ENDMARKER"})


def _literal_parts(text: str) -> tuple[str, str, str] | None:
    """``prefix + quote``, body, closing quote of a string literal token."""
    i = 0
    while i < len(text) and text[i] in "rRbBuUfF":
        i += 1
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote, i) and text.endswith(quote) and len(text) >= i + 2 * len(quote):
            return text[: i + len(quote)], text[i + len(quote): len(text) - len(quote)], quote
    return None


def _literal_name(sig: list, i: int) -> str | None:
    """The name a string literal at ``sig[i]`` is given to: ``name = "x"``, ``f(name="x")``,
    ``name: str = "x"``, ``{"name": "x"}``, ``d["name"] = "x"``, ``f("name", "x")``."""
    def tok(j):
        return sig[j] if 0 <= j < len(sig) else None

    def text(j):
        t = tok(j)
        return t.string if t is not None else ""

    def word(t):
        if t is None:
            return None
        if t.type == 1:  # NAME
            return t.string
        if t.type == 3:  # STRING
            parts = _literal_parts(t.string)
            return parts[1] if parts else None
        return None

    op = text(i - 1)
    if op in ("=", ":"):
        if op == "=" and text(i - 3) == ":" and tok(i - 4) is not None and tok(i - 4).type == 1:
            return tok(i - 4).string  # an annotated assignment
        if text(i - 2) == "]" and tok(i - 3) is not None and tok(i - 3).type == 3:
            return word(tok(i - 3))  # d["name"] = "x"
        return word(tok(i - 2))
    if op == "," and tok(i - 2) is not None and tok(i - 2).type == 3 and text(i - 3) in ("(", ","):
        return word(tok(i - 2))  # os.putenv("NAME", "x"), ("NAME", "x")
    return None


_KEYED = re.compile(r"[A-Za-z0-9_-]{20,}")


def _keyed_credential(name: str, body: object) -> bool:
    """A name ending in "key" (``wandb.login(key=...)``, ``--wandb-key``, ``wandb_key``)
    holding what looks like a credential: such a name is too generic to be secret by itself
    (``sorted(key=...)``, ``cache_key``), so only a long hex string or a mixed-case token
    with digits counts; words and ids stay."""
    words = _WORD.findall(name)
    if not words or words[-1].upper() != "KEY" or not isinstance(body, str) \
            or not _KEYED.fullmatch(body):
        return False
    if _HEX.fullmatch(body):
        return _has(body, str.isdigit) and _has(body, str.isalpha)
    return _has(body, str.islower) and _has(body, str.isupper) and _has(body, str.isdigit) \
        and _entropy(body) >= 3.5


def _redact_python(code: str) -> str:
    toks = _tokens(code)
    if toks is None:
        return _redact_values(code)
    import tokenize

    sig = [t for t in toks if tokenize.tok_name[t.type] not in _SKIP]
    where = {id(t): n for n, t in enumerate(sig)}
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    for t in toks:
        kind = tokenize.tok_name[t.type]
        if kind == "COMMENT":
            new = redact_text(t.string)
        elif kind == "STRING":
            parts = _literal_parts(t.string)
            if parts is None:
                continue
            opening, body, closing = parts
            name = _literal_name(sig, where[id(t)])
            if name and _secret_pair(name, body) and body \
                    and not body.startswith(REDACTED) and "{" not in body:
                new = opening + REDACTED + closing
            else:
                new = opening + redact_text(body) + closing
        else:
            continue
        if new != t.string:
            edits.append((t.start, t.end, new))
    if not edits:
        return code
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out = code
    for (r0, c0), (r1, c1), new in reversed(edits):
        a, b = starts[r0 - 1] + c0, starts[r1 - 1] + c1
        out = out[:a] + new + out[b:]
    return out


# ---------------------------------------------------------------- putting secrets back
_GENERIC = "NBTRACK_SECRET_{}"
_NAME_BEFORE = re.compile(
    r"(?:--?([A-Za-z][\w-]*)(?:=|\s+)|%(?:set_)?env\s+([A-Za-z_]\w*)\s+|"
    r"([A-Za-z_][\w.-]*)\s*[:=]\s*)[\"']?$")


def _env_name(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_").upper() or "SECRET"


def secret_slots(source: str) -> list[str]:
    """The environment variable each ``REDACTED`` in a stored cell stands for, in order:
    the name it was given to (``api_key = "..."`` -> ``API_KEY``, ``--token ...`` ->
    ``TOKEN``), else ``NBTRACK_SECRET_<n>``."""
    names: list[str] = []
    for _, name in _slot_positions(source):
        names.append(name or _GENERIC.format(len(names) + 1))
    return names


def _slot_positions(source: str) -> list[tuple[int, str | None]]:
    found = []
    pos = source.find(REDACTED)
    while pos >= 0:
        line_start = source.rfind("\n", 0, pos) + 1
        before = source[line_start:pos]
        if _in_comment(before):  # a secret in a comment is not needed to run the code
            pos = source.find(REDACTED, pos + len(REDACTED))
            continue
        name = None
        literal = _literal_name_at(source, pos)
        if literal:
            name = _env_name(literal)
        else:
            m = _NAME_BEFORE.search(before)
            if m:
                name = _env_name(m.group(1) or m.group(2) or m.group(3))
        found.append((pos, name))
        pos = source.find(REDACTED, pos + len(REDACTED))
    return found


def _in_comment(before: str) -> bool:
    """True when a ``#`` outside quotes starts a comment in ``before`` (one line)."""
    quote = ""
    for ch in before:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return True
    return False


def _literal_name_at(source: str, pos: int) -> str | None:
    """The secret-like name a redacted string literal at ``pos`` was given to."""
    toks = _tokens(source)
    if toks is None:
        return None
    import tokenize

    sig = [t for t in toks if tokenize.tok_name[t.type] not in _SKIP]
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for n, t in enumerate(sig):
        if t.type != tokenize.STRING:
            continue
        a = starts[t.start[0] - 1] + t.start[1]
        b = starts[t.end[0] - 1] + t.end[1]
        if a <= pos < b:
            name = _literal_name(sig, n)
            return name if name and is_secret_key(name) else None
    return None


def fill_secrets(source: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """``source`` with each ``REDACTED`` replaced by the value of the environment
    variable ``secret_slots`` names; the names that were not set."""
    slots = _slot_positions(source)
    if not slots:
        return source, []
    missing: list[str] = []
    out = source
    for k, (pos, name) in reversed(list(enumerate(slots))):
        var = name or _GENERIC.format(k + 1)
        value = environ.get(var)
        if value is None:
            missing.append(var)
            continue
        if _literal_name_at(source, pos) is not None or _inside_literal(source, pos):
            value = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
        out = out[:pos] + value + out[pos + len(REDACTED):]
    return out, sorted(set(missing))


def _inside_literal(source: str, pos: int) -> bool:
    toks = _tokens(source)
    if toks is None:
        return False
    line_no = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1)
    import tokenize

    return any(t.type == tokenize.STRING and t.start <= (line_no, col) < t.end for t in toks)
