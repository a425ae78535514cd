"""Create the MySQL database named in DATABASE_URL (utf8mb4) when it does not exist yet."""

import os
import sys

import environ
import MySQLdb


def main() -> int:
    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    name = config["NAME"]
    if not name.replace("_", "").isalnum():
        print(f"[setup] Refusing odd database name {name!r}", file=sys.stderr)
        return 1
    try:
        connection = MySQLdb.connect(
            host=config.get("HOST") or "127.0.0.1",
            port=int(config.get("PORT") or 3306),
            user=config.get("USER") or "root",
            password=config.get("PASSWORD") or "",
        )
    except MySQLdb.Error as exc:
        print(f"[setup] Cannot reach MySQL for DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
