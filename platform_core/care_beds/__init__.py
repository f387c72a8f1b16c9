"""家庭养老床位 / family care beds: from application to withdrawal, with monthly services and subsidy."""
