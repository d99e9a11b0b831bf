"""Ranking: turn a scorer's raw scores into a recommendation list under the product's rules.

``catalog`` holds the course arrays the rules index into, ``rules`` the vectorised business rules
(exclusions, prerequisites, difficulty, format, diversity), ``privacy`` which signals each data
tier allows, ``explain`` the readable reasons and ``paths`` the static learning paths.
"""
