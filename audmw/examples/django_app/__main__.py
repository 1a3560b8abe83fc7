import sys

from audmw.examples.django_app.server import main

sys.exit(main())
