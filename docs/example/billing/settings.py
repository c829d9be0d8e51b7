"""Where the application's database is, and whether it is the production one."""
import os

db_url = os.environ['BILLING_DB_URL']
production = os.environ.get('BILLING_ENVIRONMENT') == 'production'
