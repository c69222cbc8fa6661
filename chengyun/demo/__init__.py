"""The demo street: a deterministic, generated 大弯街道 with its grids, units, people and places."""
