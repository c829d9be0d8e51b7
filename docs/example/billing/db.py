import sys

from billing import settings
from billing.model import config
from mortar_rdb.controlled import Scripts

scripts = Scripts(settings.db_url, config, failsafe=not settings.production)

if __name__ == '__main__':
    sys.exit(scripts())
