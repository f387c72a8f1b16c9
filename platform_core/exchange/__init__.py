"""Data exchange (数据交换, standard 5.2): departments' batches in, the platform's export up."""
