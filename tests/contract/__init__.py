"""One contract for every adapter: which requirement a request meets, over real servers."""
