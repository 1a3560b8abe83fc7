"""Example services implementing the same five-route contract with each adapter."""
