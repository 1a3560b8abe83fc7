import sys

from audmw.examples.django_app import main

sys.exit(main())
