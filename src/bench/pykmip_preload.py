#!/usr/bin/python3
"""Preload PyKMIP's server database for `kms bench` (the spread mixes), server stopped.

  pykmip_preload.py DATABASE OWNER COUNT

Adds COUNT AES-256 symmetric keys (random values, Encrypt|Decrypt usage, name pre-<i>,
operation policy "default", owner OWNER = the client certificate's common name, which is how
PyKMIP's server records the creator of an object) to PyKMIP's SQLite DATABASE, through
PyKMIP's own object model and schema (kmip.pie.objects / sqltypes), the way its Create
operation stores them. Prints the unique identifiers, one per line, on stdout.

Like our own preload (src/bench/preload.ts), this goes straight to the store: creating 10,000
keys through PyKMIP's server one request at a time would take minutes.
"""

import os
import sys
import time

import sqlalchemy
import sqlalchemy.orm

from kmip.core import enums
from kmip.pie import objects, sqltypes


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    database, owner, count = argv[1], argv[2], int(argv[3])
    engine = sqlalchemy.create_engine("sqlite:///{}".format(database), echo=False)
    sqltypes.Base.metadata.create_all(engine)
    session = sqlalchemy.orm.sessionmaker(bind=engine, expire_on_commit=False)()
    masks = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]
    now = int(time.time())
    made = []
    for i in range(count):
        key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, os.urandom(32), masks, "pre-{}".format(i))
        key._owner = owner
        key.operation_policy_name = "default"
        key.initial_date = now
        session.add(key)
        made.append(key)
        if len(made) % 1000 == 0:
            session.commit()
    session.commit()
    for key in made:
        sys.stdout.write("{}\n".format(key.unique_identifier))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
