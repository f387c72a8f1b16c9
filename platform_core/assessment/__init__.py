"""老年人能力评估 / elder ability assessment per GB/T 42195-2022."""
