"""助餐 / meal aid: meal points, menus, bookings, redemption, statistics and settlement."""
