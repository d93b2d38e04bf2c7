"""Themes in residents' written answers: found on this machine, explained by words and quotes, kept by officers.

- `engage.themes.words`: folding, stop words (English, Welsh, Polish), the glossary of council subjects.
- `engage.themes.duplicates`: near-duplicate answers (campaign texts, copy-paste), grouped.
- `engage.themes.analysis`: the maths (scikit-learn): TF-IDF, LSA, KMeans, labels, quotes, assignment.
- `engage.themes.service`: themes of a flow's free-text step, stored; officers' decisions; figures.
"""
