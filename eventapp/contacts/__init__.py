"""The pool of people: one Contact per person across all events."""
