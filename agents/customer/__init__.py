"""The customer assistant: order status, delivery dates, address changes and returns, for the signed-in caller."""
