"""Numbers from metric rows: statistics, the leaderboard, checks against a baseline, comparisons and exports.

Analysis works on `bench.records` rows handed to it; it does not open the database."""
