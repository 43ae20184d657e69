"""On-site check-in: check-in points, ticket redemption at the gate (online and offline),
the booking gift, walk-ins, badges and the live arrivals dashboard."""
