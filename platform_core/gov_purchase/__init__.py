"""政府购买服务 / government-purchased elderly-care services: the application chain and allowances."""
