"""``python -m example_apps.<name>_app --port P`` in a checkout: the apps of ``audmw.examples``.

The apps ship in the package (``audmw serve-example``); these modules keep the commands that
other tools run from a checkout, with the same routes and the same configuration.
"""
