"""scaffold: generate and update GitOps app and infra repos from Copier templates.

The package version equals the template version: templates are released as the git
tag ``v<__version__>`` of the repository that holds this package.
"""

__version__ = "0.2.0"
