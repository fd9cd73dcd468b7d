"""Redaction: secret names, secret-looking values, URL credentials, env allow-list, text."""

from __future__ import annotations

import json
import random
import string

import pytest

from nbtrack.redaction import (
    REDACTED,
    fill_secrets,
    is_secret_key,
    is_secret_name,
    looks_like_secret,
    redact_argv,
    redact_env,
    redact_params,
    redact_source,
    redact_text,
    redact_value,
    secret_slots,
    strip_url_credentials,
)

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GH_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1L\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "name",
    ["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "HF_TOKEN", "db_password", "MYSQL_PWD",
     "PGPASS", "api-key", "apiKey", "SENTRY_DSN", "SLACK_WEBHOOK_URL", "GOOGLE_CREDENTIALS",
     "Authorization", "SESSION_ID", "private_key_path", "x-amz-signature", "NBTRACK_API_KEY",
     "DB_PASS", "COOKIE_JAR", "passwd"],
)  # fmt: skip
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["PATH", "HOME", "PWD", "OLDPWD", "JPY_SESSION_NAME", "CUDA_VISIBLE_DEVICES", "LANG",
     "OMP_NUM_THREADS", "HF_HOME", "PASSTHROUGH_MODE", "VIRTUAL_ENV", "SLURM_JOB_ID"],
)  # fmt: skip
def test_plain_names(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "value",
    ["AKIAIOSFODNN7EXAMPLE", "key id ASIAY34FZKBOKMUTVV7A here", GH_TOKEN,
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
     "sk-proj-abcdefghijklmnopqrstuvwxyz012345", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
     "xoxb-123456789012-abcdefghijkl", JWT, PEM, AWS_SECRET,
     "9f86d081884c7d659a2feaa0c55ad015",  # 32 hex: an API-key shape (md5 length)
     "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "https://user:pw@host/x"],
)  # fmt: skip
def test_values_that_look_secret(value):
    assert looks_like_secret(value)


@pytest.mark.parametrize(
    "value",
    ["/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
     "/home/user/projects/SomeProject2024/data/Train_Split_V2_Final",
     "https://download.pytorch.org/whl/cu121", "2.3.0+cu121", "1.26.4", "",
     "123e4567-e89b-12d3-a456-426614174000",  # uuid: GPU and kernel ids
     "GPU-5e7f5c59-5c3a-0e3f-9a4e-6f0c1b2a3d4e",
     "4e03cf90e148656e104d8cc6aac64fbede502f94",  # git commit
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256
     "MyVeryLongClassNameForVersion2Handler", "test_UserRegistrationViewSetWithValidPayload2",
     "torch-2.3.0+cu121-cp311-cp311-linux_x86_64.whl", "C.UTF-8",
     "ssh://git@github.com/org/repo.git", "git@github.com:org/repo.git"],
)  # fmt: skip
def test_values_that_do_not(value):
    assert not looks_like_secret(value)


def test_random_keys_are_caught_and_identifiers_are_not():
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + "_-"
    for length in (32, 40, 64):
        keys = ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(300)]
        caught = sum(looks_like_secret(k) for k in keys)
        assert caught >= 0.97 * len(keys), (length, caught)
        hexes = ["".join(rng.choice("0123456789abcdef") for _ in range(length)) for _ in range(50)]
        # 40 and 64 hex are git commits and sha256 digests, kept on purpose; other lengths go
        assert sum(looks_like_secret(h) for h in hexes) == (0 if length in (40, 64) else 50)
    words = "model train data loader version handler config batch size final".split()
    idents = ["".join(rng.choice(words).title() for _ in range(5)) + "2" for _ in range(200)]
    assert sum(looks_like_secret(i) for i in idents if len(i) >= 32) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("https://user:pass@host/x", "https://***@host/x"),
     ("git+https://user:tok@github.com/o/r.git@v1#egg=r", "git+https://***@github.com/o/r.git@v1#egg=r"),
     ("clone https://ghp_abc@github.com/o/r and http://u:p@ss@h.io", "clone https://***@github.com/o/r and http://***@h.io"),
     ("redis://:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
     ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
     ("git@github.com:o/r.git", "git@github.com:o/r.git"),
     ("https://h/f?X-Amz-Signature=abc&part=1&access_token=t", f"https://h/f?X-Amz-Signature={REDACTED}&part=1&access_token={REDACTED}"),
     ("https://pypi.org/simple/?q=1", "https://pypi.org/simple/?q=1"),
     ("no urls here: user:pass", "no urls here: user:pass")],
)  # fmt: skip
def test_strip_url_credentials(text, expected):
    assert strip_url_credentials(text) == expected


def test_redact_env_keeps_only_the_allow_list():
    environ = {
        "PATH": "/usr/bin:/bin", "HOME": "/home/me", "LC_ALL": "C.UTF-8",
        "CUDA_VISIBLE_DEVICES": "0,1", "HF_HOME": "/data/hf", "HF_TOKEN": "hf_plain",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "GITHUB_TOKEN": GH_TOKEN,
        "MY_COMPANY_INTERNAL_THING": "visible?", "NBTRACK_API_KEY": "short",
        "PIP_INDEX_URL": "https://me:s3cret-pw@pypi.example.com/simple",
        "PYTHONSTARTUP_NOTE": AWS_SECRET, "JPY_SESSION_NAME": "/home/me/nb.ipynb",
    }  # fmt: skip
    kept = redact_env(environ)
    assert kept == {
        "CUDA_VISIBLE_DEVICES": "0,1", "HF_HOME": "/data/hf", "HF_TOKEN": REDACTED,
        "HOME": "/home/me", "JPY_SESSION_NAME": "/home/me/nb.ipynb", "LC_ALL": "C.UTF-8",
        "NBTRACK_API_KEY": REDACTED, "PATH": "/usr/bin:/bin",
        "PIP_INDEX_URL": "https://***@pypi.example.com/simple", "PYTHONSTARTUP_NOTE": REDACTED,
    }  # fmt: skip
    assert list(kept) == sorted(kept)
    dumped = json.dumps(kept)
    for planted in (AWS_SECRET, GH_TOKEN, "hf_plain", "s3cret-pw", "MY_COMPANY", "short"):
        assert planted not in dumped


def test_redact_env_extra_allow_list():
    environ = {"NBTRACK_ENV_ALLOW": "MY_VAR, EXP_*", "MY_VAR": "1", "EXP_SEED": "7",
               "EXP_TOKEN": "t0k", "OTHER": "x"}  # fmt: skip
    kept = redact_env(environ)
    assert kept["MY_VAR"] == "1" and kept["EXP_SEED"] == "7" and kept["EXP_TOKEN"] == REDACTED
    assert "OTHER" not in kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [("python train.py --password hunter2 --lr 0.1", f"python train.py --password {REDACTED} --lr 0.1"),
     ("huggingface-cli login --token=abc123", f"huggingface-cli login --token={REDACTED}"),
     ('AWS_SECRET_ACCESS_KEY="x y" DB_PASS=pw python run.py', f'AWS_SECRET_ACCESS_KEY="{REDACTED}" DB_PASS={REDACTED} python run.py'),
     ("curl -H 'Authorization: Bearer abcdefghijkl' https://api", f"curl -H 'Authorization: Bearer {REDACTED}' https://api"),
     (f"echo {GH_TOKEN}", f"echo {REDACTED}"),
     (f"echo {AWS_SECRET}", f"echo {REDACTED}"),
     (f"before\n{PEM}\nafter", f"before\n{REDACTED}\nafter"),
     ("pip install git+https://bob:tok@github.com/o/r.git", "pip install git+https://***@github.com/o/r.git"),
     ("pip install torch==2.3.0 --index-url https://download.pytorch.org/whl/cu121",
      "pip install torch==2.3.0 --index-url https://download.pytorch.org/whl/cu121"),
     ("git checkout 4e03cf90e148656e104d8cc6aac64fbede502f94", "git checkout 4e03cf90e148656e104d8cc6aac64fbede502f94"),
     ("!ls -la /home/user/data", "!ls -la /home/user/data"),
     ("{'api_key': 'abc', 'lr': 0.1}", f"{{'api_key': '{REDACTED}', 'lr': 0.1}}"),
     ("hf login --token --verbose", "hf login --token --verbose"),
     ("", "")],
)  # fmt: skip
def test_redact_text(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "name", ["api_key", "apiKey", "X-Api-Key", "db_password", "GITHUB_TOKEN", "githubtoken",
             "token", "HF_TOKEN", "Authorization", "x-amz-signature", "private_key_path",
             "PGPASS", "passwd", "SESSION_ID", "client_secret", "aws_secret_access_key"],
)  # fmt: skip
def test_secret_keys_people_choose(name):
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name", ["max_tokens", "pad_token", "eos_token", "tokenizer", "tokens", "token_count",
             "sort_key", "key", "key_dim", "author", "keyboard", "num_keys", "compass",
             "PASSTHROUGH_MODE", "lr", "bypass_cache"],
)  # fmt: skip
def test_names_that_are_not_secret_keys(name):
    assert not is_secret_key(name)


@pytest.mark.parametrize(
    ("source", "expected"),
    [('api_key = "sk-abcdefghijklmnopqrstuvwxyz012345"\nprint(api_key)',
      f'api_key = "{REDACTED}"\nprint(api_key)'),
     ('password = os.environ["PW"]\nc = connect(password="hunter2", host="db")',
      f'password = os.environ["PW"]\nc = connect(password="{REDACTED}", host="db")'),
     ('h = {"Authorization": "Bearer abcdefghijk", "token": "t0k"}',
      f'h = {{"Authorization": "{REDACTED}", "token": "{REDACTED}"}}'),
     ('os.environ["MY_TOKEN"] = "abc"\nos.putenv("DB_PASS", "pw")',
      f'os.environ["MY_TOKEN"] = "{REDACTED}"\nos.putenv("DB_PASS", "{REDACTED}")'),
     ("db_password: str = 'pw1'", f"db_password: str = '{REDACTED}'"),
     ('!curl -H "Authorization: Bearer abcdefghijkl" https://api.x',
      f'!curl -H "Authorization: Bearer {REDACTED}" https://api.x'),
     ("!pip install git+https://user:tok3n@github.com/o/r.git",
      "!pip install git+https://***@github.com/o/r.git"),
     ("%env MY_TOKEN=supersecret\n%env OTHER_TOKEN supersecret2\nx = 1",
      f"%env MY_TOKEN={REDACTED}\n%env OTHER_TOKEN {REDACTED}\nx = 1"),
     ("%%bash\nexport API_TOKEN=abc\ncurl --password hunter2 x",
      f"%%bash\nexport API_TOKEN={REDACTED}\ncurl --password {REDACTED} x"),
     (f"# pasted: {GH_TOKEN}\nz = 1", f"# pasted: {REDACTED}\nz = 1"),
     ('tokenizer = "bert-base"\nmax_tokens = 512\nkey = "loss"\nfor k in d.keys(): pass',
      'tokenizer = "bert-base"\nmax_tokens = 512\nkey = "loss"\nfor k in d.keys(): pass'),
     ("x = !echo --token abc", f"x = !echo --token {REDACTED}"),
     ('wandb.login(key="0123456789abcdef0123456789abcdef01234567")\nk = dict(key="Zq8vR2mXw9LpT4cY7bN1")',
      f'wandb.login(key="{REDACTED}")\nk = dict(key="{REDACTED}")'),
     ('sorted(xs, key="loss")\nd = {"key": "model_checkpoint_best"}\nkey = "run-2024-01-02-abc"',
      'sorted(xs, key="loss")\nd = {"key": "model_checkpoint_best"}\nkey = "run-2024-01-02-abc"'),
     ('s = """multi\n!not a magic: --password pw\n"""', f's = """multi\n!not a magic: --password {REDACTED}\n"""'),
     ("def f(:\n  k = 'sk-abcdefghijklmnopqrstuvwxyz012345'", f"def f(:\n  k = '{REDACTED}'")],
)  # fmt: skip
def test_redact_source_keeps_code_runnable(source, expected):
    assert redact_source(source) == expected
    assert redact_source(expected) == expected  # idempotent: a re-run cell hashes the same


def test_redacted_literals_name_the_variable_that_gives_them_back():
    source = redact_source('api_key = "abc"\n!curl -H "Authorization: Bearer xyzxyzxyz" u\n'
                           "%env MY_TOKEN tok\n# token: abcabc = 1")
    assert secret_slots(source) == ["API_KEY", "NBTRACK_SECRET_2", "MY_TOKEN"]
    filled, missing = fill_secrets(source, {"API_KEY": 'a"b', "MY_TOKEN": "m"})
    assert missing == ["NBTRACK_SECRET_2"]
    assert filled.startswith('api_key = "a\\"b"\n') and "%env MY_TOKEN m" in filled


def test_argv_flags_given_as_two_elements_are_redacted():
    argv = ["train.py", "--api-key", "VALUE", "--lr", "0.1", "--password=x", "-v", "--token"]
    assert redact_argv(argv) == ["train.py", "--api-key", REDACTED, "--lr", "0.1",
                                 f"--password={REDACTED}", "-v", "--token"]


def test_params_and_metadata_keep_their_keys_and_lose_secret_values():
    assert redact_params({"api_key": "x", "opt.password": 3, "lr": 0.1, "max_tokens": 512,
                          "url": "https://u:p@h/x", "use_auth": True}) == {
        "api_key": REDACTED, "opt.password": REDACTED, "lr": 0.1, "max_tokens": 512,
        "url": "https://***@h/x", "use_auth": True}
    assert redact_value({"db": {"credentials": {"user": "bob", "pw": "x"}, "host": "h"},
                         "tags": ["--token=abc"]}) == {
        "db": {"credentials": {"user": REDACTED, "pw": REDACTED}, "host": "h"},
        "tags": [f"--token={REDACTED}"]}


WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"  # W&B keys are 40 hex digits


def test_a_credential_under_a_name_ending_in_key_is_withheld_and_a_word_is_not():
    """"key" alone is a sort's or a dict's name far more often than a credential's, so
    under such names only a value that looks like one is withheld."""
    assert redact_argv(["t.py", "--wandb-key", WANDB_KEY, "--sort-key", "loss"]) == [
        "t.py", "--wandb-key", REDACTED, "--sort-key", "loss"]
    assert redact_text(f"t.py --wandb_key={WANDB_KEY} --sort-key name WANDB_KEY={WANDB_KEY}") == (
        f"t.py --wandb_key={REDACTED} --sort-key name WANDB_KEY={REDACTED}")
    assert redact_params({"logger.key": WANDB_KEY, "key": "loss", "cache_key": "run-2024-01-02"}) == {
        "logger.key": REDACTED, "key": "loss", "cache_key": "run-2024-01-02"}
    assert redact_value({"wandb": {"key": WANDB_KEY, "project": "p"}}) == {
        "wandb": {"key": REDACTED, "project": "p"}}


def test_an_allow_listed_variable_holding_a_secret_in_its_value():
    kept = redact_env({"SLURM_JOB_NAME": "train --db-password=X", "SLURM_JOB_ID": "42",
                       "PYTHONPATH": "/a:/b"})
    assert kept == {"SLURM_JOB_NAME": f"train --db-password={REDACTED}", "SLURM_JOB_ID": "42",
                    "PYTHONPATH": "/a:/b"}


def test_a_shell_command_is_stored_redacted(store, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    import nbtrack
    from nbtrack.capture import commands

    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    recorder = commands.CommandRecorder(shell)
    recorder.register()  # as %load_ext does (kept once, however often it is asked)
    try:
        with nbtrack.start_run("exp", name="cmd"):
            shell.system("echo --password hunter2-zq9 > /dev/null")
    finally:
        recorder.unregister()
        InteractiveShell.clear_instance()
    recorded = nbtrack.get_run("cmd")["commands"]
    assert recorded and {c["command"] for c in recorded} == {
        f"echo --password {REDACTED} > /dev/null"}
    assert "hunter2-zq9" not in json.dumps(nbtrack.get_run("cmd"))
