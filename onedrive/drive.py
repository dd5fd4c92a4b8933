"""The user's OneDrive as the picker shows it: folders, search, pages, and what may be imported; and every
OneDrive path of Microsoft Graph, one function per call (the imports call them too).

Paging follows Graph's `@odata.nextLink`, which stays on the server (in the session) behind a random
token: the browser only ever sends that token back, never a URL for us to fetch.
"""
import mimetypes
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from urllib.parse import quote

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from integrations.microsoft.errors import GraphError
from mediaspace.media_types import kind_of
from mediaspace.sizes import readable_size

SELECT = "id,name,size,file,folder,lastModifiedDateTime,parentReference"
PAGE_SIZE = 100
# Drive and item ids are letters, digits and a few marks ("b!…" drive ids, "01ABC…" item ids); "." and ".."
# are not ids but path segments (".../items/.." is the drive itself), refused before Graph is asked. "\Z", not
# "$": "$" also matches before a final line break.
ID = re.compile(r"^(?!\.\.?\Z)[A-Za-z0-9!._-]{1,200}\Z")
KEPT_PAGES = 50  # next-page links remembered per session
KEPT_FOLDERS = 500  # folder parents remembered per session, for the breadcrumb

ROOT_CHILDREN = "/me/drive/root/children"
FOLDER = "/me/drive/items/{folder_id}"
FOLDER_CHILDREN = FOLDER + "/children"
SEARCH = "/me/drive/root/search(q='{query}')"
ITEM = "/drives/{drive_id}/items/{item_id}"
ITEM_CONTENT = ITEM + "/content"
ROOT_PATH = "/drive/root:"  # the root as a parentReference's path names it


class PageExpired(Exception):
    """A page token that this session does not hold (expired, or not ours)."""


@dataclass
class DriveEntry:
    id: str
    drive_id: str
    name: str
    is_folder: bool
    size: int = 0
    mime_type: str = ""
    modified: datetime | None = None
    child_count: int | None = None
    parent_id: str = ""
    parent_path: str | None = None
    refusal: str = ""  # why the file cannot be imported; '' when it can

    @property
    def key(self) -> str:
        """What the picker's checkbox sends back: drive id and item id."""
        return f"{self.drive_id}/{self.id}"

    @property
    def kind(self) -> str:
        return "folder" if self.is_folder else kind_of(self.mime_type) or "other"

    @property
    def importable(self) -> bool:
        return not self.is_folder and not self.refusal


def entry_from_item(item, max_size) -> DriveEntry:
    """A Graph driveItem as the picker shows it; raises ValueError for an answer that is not a driveItem."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("name"), str):
        raise ValueError("not a driveItem")
    parent = item.get("parentReference") if isinstance(item.get("parentReference"), dict) else {}
    is_folder = isinstance(item.get("folder"), dict) or "root" in item
    file = item.get("file") if isinstance(item.get("file"), dict) else {}
    mime_type = file.get("mimeType") or ""
    if not is_folder and not kind_of(mime_type):  # OneDrive says octet-stream for some media: the name tells
        mime_type = mimetypes.guess_type(item["name"])[0] or mime_type
    size = item.get("size") if isinstance(item.get("size"), int) else 0
    entry = DriveEntry(
        id=item["id"], drive_id=str(parent.get("driveId") or ""), name=item["name"], is_folder=is_folder,
        size=size, mime_type=mime_type, modified=parse_datetime(str(item.get("lastModifiedDateTime") or "")),
        child_count=(item.get("folder") or {}).get("childCount") if is_folder else None,
        parent_id=str(parent.get("id") or ""), parent_path=parent.get("path"),
    )
    if not is_folder:
        if entry.kind == "other":
            entry.refusal = _("Not a video, audio or image file")
        elif size > max_size:
            entry.refusal = _("Larger than the %(limit)s import limit") % {"limit": readable_size(max_size)}
    return entry


@dataclass
class Listing:
    entries: list
    folder: DriveEntry | None = None  # None: the root (or a search)
    query: str = ""
    breadcrumb: list = field(default_factory=list)  # (folder id or '', name); '' id: not known, no link
    next_page: str = ""  # token of the next page, if any
    parent_id: str | None = None  # where "Up" goes ('' = root); None at the root

    @property
    def importable_count(self):
        return sum(entry.importable for entry in self.entries)


# -- Graph: one function per call -----------------------------------------------------------------


def search_path(query) -> str:
    """OData doubles a quote inside the string; the rest is percent-encoded, or a '#', '?' or '/' typed in
    the search box would end the URL's path ("C# basics" would search for "C")."""
    return SEARCH.format(query=quote(query.replace("'", "''"), safe="'"))


def folder_item(graph, folder_id) -> dict:
    """The driveItem of a folder of the user's drive."""
    return graph.get(FOLDER.format(folder_id=folder_id), **{"$select": SELECT})


def children_page(graph, folder_id="") -> dict:
    """The first page of a folder's children (the root's when folder_id is '')."""
    path = FOLDER_CHILDREN.format(folder_id=folder_id) if folder_id else ROOT_CHILDREN
    return graph.get(path, **{"$top": PAGE_SIZE, "$select": SELECT})


def search_page(graph, query) -> dict:
    """The first page of the files and folders that match `query` in the user's drive."""
    return graph.get(search_path(query), **{"$top": PAGE_SIZE})


def next_page(graph, next_link) -> dict:
    """The page at a listing's `@odata.nextLink` (GraphClient refuses any host but Graph's)."""
    return graph.get(next_link)


def drive_item(graph, drive_id, item_id) -> dict:
    """A driveItem by drive id and item id."""
    return graph.get(ITEM.format(**_ids(drive_id, item_id)), **{"$select": SELECT})


def item_content(graph, drive_id, item_id, **options):
    """A file's bytes, as a resuming download (`options` go to GraphClient.download)."""
    return graph.download(ITEM_CONTENT.format(**_ids(drive_id, item_id)), **options)


def _ids(drive_id, item_id) -> dict:
    """The ids for a path, refused before Graph is asked when they are not ids."""
    if not (ID.match(drive_id) and ID.match(item_id)):
        raise ValueError("not a drive or item id")
    return {"drive_id": drive_id, "item_id": item_id}


# -- the picker ------------------------------------------------------------------------------------


def list_folder(graph, session, module, folder_id="", page=""):
    """One page of a folder (the root when folder_id is '')."""
    context = ("folder", folder_id)
    folder, kept_item = None, _kept_page(session, page, context).get("folder") if page else None
    if folder_id:
        # The folder itself (name, path for the breadcrumb) is asked once, then kept with its next pages.
        kept_item = kept_item or folder_item(graph, folder_id)
        folder = entry_from_item(kept_item, module.max_import_size)
        if not folder.is_folder:
            raise ValueError("not a folder")
    listing = _page(graph, session, partial(children_page, graph, folder_id), module, context, page,
                    keep={"folder": kept_item})
    listing.folder = folder
    _remember_folders(session, listing.entries, folder)
    if folder is not None:
        listing.breadcrumb = _breadcrumb(session, folder)
        listing.parent_id = "" if folder.parent_path in (None, ROOT_PATH) else folder.parent_id
    return listing


def search(graph, session, module, query, page=""):
    listing = _page(graph, session, partial(search_page, graph, query), module, ("search", query), page)
    listing.query = query
    return listing


def item(graph, module, drive_id, item_id) -> DriveEntry:
    """A driveItem as the picker shows it; ValueError for ids that are not ids, or an answer that is not one."""
    return entry_from_item(drive_item(graph, drive_id, item_id), module.max_import_size)


def _kept_page(session, page, context):
    kept = session.get("onedrive_pages", {}).get(page)
    if not kept or tuple(kept["context"]) != context:
        raise PageExpired(page)
    return kept


def _page(graph, session, first_page, module, context, page, keep=None):
    """The page behind the token `page`, or the first one (`first_page()`), as a Listing."""
    pages = session.setdefault("onedrive_pages", {})
    answer = next_page(graph, _kept_page(session, page, context)["url"]) if page else first_page()
    if not isinstance(answer, dict) or not isinstance(answer.get("value", []), list):
        raise GraphError(_("Microsoft's answer is not a list of files"), status=200)
    entries = []
    for value in answer.get("value") or []:
        try:
            entries.append(entry_from_item(value, module.max_import_size))
        except ValueError:
            continue  # not a driveItem (e.g. a malformed answer): leave it out
    listing = Listing(entries=entries)
    next_link = answer.get("@odata.nextLink")
    if isinstance(next_link, str):
        listing.next_page = secrets.token_urlsafe(12)
        pages[listing.next_page] = {"url": next_link, "context": list(context), **(keep or {})}
        for stale in list(pages)[:-KEPT_PAGES]:
            del pages[stale]
    session.modified = True
    return listing


def _remember_folders(session, entries, folder):
    parents = session.setdefault("onedrive_folders", {})
    for entry in [*entries, *([folder] if folder else [])]:
        if entry.is_folder and entry.parent_id:
            parents[entry.id] = entry.parent_id
    for stale in list(parents)[:-KEPT_FOLDERS]:
        del parents[stale]
    session.modified = True


def _breadcrumb(session, folder):
    """(id, name) from the root's child down to the folder's parent, ids from the folders seen so far."""
    names = [name for name in (folder.parent_path or "").removeprefix(ROOT_PATH).split("/") if name]
    parents = session.get("onedrive_folders", {})
    ids, current = [], folder.parent_id
    for _name in names:
        ids.insert(0, current or "")
        current = parents.get(current) if current else None
    return list(zip(ids, names))
