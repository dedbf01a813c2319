"""What the book shows: plots (matplotlib / seaborn) and widgets that work without a kernel."""
