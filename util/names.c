#include "util/names.h"

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Gitea: alphanumerics, '-', '_', '.'; a user name starts with a word character. */
bool names_valid_owner(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAMES_OWNER_MAX || !is_word(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if ((!is_word(s[i]) && s[i] != '-' && s[i] != '.') ||
		    (s[i] == '.' && s[i - 1] == '.'))
			return false;
	return true;
}

/*
 * Gitea: [-.\w]+ but never "." and no ".." anywhere (Gitea refuses two dots
 * in a row in a name, and so does the adapter: such a name can name
 * nothing). ".profile" is a real repository.
 */
bool names_valid_repo(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAMES_REPO_MAX)
		return false;
	if (n == 1 && s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if ((!is_word(s[i]) && s[i] != '-' && s[i] != '.') ||
		    (s[i] == '.' && i > 0 && s[i - 1] == '.'))
			return false;
	return true;
}

bool names_valid_bottle(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAMES_BOTTLE_MAX || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!is_word(s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}
