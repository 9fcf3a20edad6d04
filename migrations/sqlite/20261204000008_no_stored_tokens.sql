-- Auth tokens are no longer stored: the accounts that authenticate are exactly those the server
-- is configured with at start, so a token removed from the configuration stops working. Tokens
-- stored by earlier versions are erased. The column stays (NOT NULL, now always '').
UPDATE accounts SET auth_token = '';
