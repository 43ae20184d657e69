"""Invitations, booking and tickets: the invitation page, the booking form, signed tickets,
channel and personal share QR codes, countdown posters, messages and reminders."""
