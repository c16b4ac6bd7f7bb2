"""One small runner per research question of the book. Each asks the lower floors for what it
needs (data, backbones, cached runs) and returns tables and figures; notebooks only call these."""
