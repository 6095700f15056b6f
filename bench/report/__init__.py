"""The HTML report: the page, its figures and hooks, the samples pages, and the output folder they go in."""
