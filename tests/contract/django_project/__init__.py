"""The contract's routes on Django and DRF, served in a process of their own."""
