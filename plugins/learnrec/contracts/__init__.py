"""Data contracts shared by every stage: the product document's shapes, typed once."""
