"""Building quick-fix edits from the tree, applying them, and checking they still parse."""
