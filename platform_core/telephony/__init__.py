"""The command protocol between the console or jobs and callcenter's AMI connection."""
