"""Who may do what with an entry. Views, templates and tests ask these and nothing else."""
from .models import Collaborator, Publication
from .roles import Role, has_role


class EntryAccess:
    """What `user` may do with `entry`, worked out with a few queries.

    Staff see (never change) every entry only with the permission to view media entries, the one that also
    shows them in the admin; superusers hold it implicitly. Being staff alone gives nothing here.
    """

    def __init__(self, user, entry):
        signed_in = user.is_authenticated
        self.is_owner = signed_in and entry.owner_id == user.pk
        collaborator = None
        if signed_in and not self.is_owner:
            collaborator = Collaborator.objects.filter(entry=entry, user=user).first()
        self.collaborator = collaborator
        is_co_viewer = bool(collaborator and collaborator.is_co_viewer)
        is_co_editor = bool(collaborator and collaborator.is_co_editor)
        is_co_publisher = bool(collaborator and collaborator.is_co_publisher)

        self.can_edit = self.is_owner or is_co_editor
        self.can_delete = self.is_owner
        self.can_manage_collaborators = self.is_owner
        self.can_publish = (self.is_owner or is_co_publisher) and has_role(user, Role.ADMIN)
        self.can_view = (
            self.is_owner
            or is_co_viewer
            or is_co_editor
            or is_co_publisher
            or (signed_in and user.is_staff and user.has_perm("mediaspace.view_mediaentry"))
            or (
                has_role(user, Role.VIEWER)
                and entry.status == entry.Status.READY
                and entry.publications.filter(status=Publication.Status.APPROVED).exists()
            )
        )

    @property
    def rights(self):
        """Everything here that changes what the entry page shows: pages built for equal rights are the same."""
        return (self.is_owner, self.can_view, self.can_edit, self.can_delete, self.can_manage_collaborators,
                self.can_publish)
