"""Write a .env with fresh secrets when there is none (used by `make run` and `make test`)."""
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
if path.exists():
    sys.exit(0)
path.write_text(
    "# Written by `make` on first run. Keep FIELD_ENCRYPTION_KEY: without it stored secrets cannot be read.\n"
    "DEBUG=true\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n"
)
print(f"Wrote {path} with a new SECRET_KEY and FIELD_ENCRYPTION_KEY.")
