"""Network administration pages: sites and their hours, machines, trainings, people.

Only network admins open them. Plain forms and 303 redirects; htmx only refreshes the
people search. A refusal is shown next to its form, with its HTTP status; nothing is written.
Reading the forms is in ``fabbooking.web.manage_forms``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from fabbooking.accounts import services as accounts
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.network.tables import Machine, Staff
from fabbooking.training import services as training
from fabbooking.training.tables import Training
from fabbooking.web import manage_forms as forms
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _
from fabbooking.web.rendering import go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
NEW_SITE = {"kind": "papifab", "timezone": "Europe/Paris"}


def admin_viewer(request: Request) -> Viewer:
    """Anonymous people go to the login page; anyone but a network admin gets a 403."""
    viewer = signed_in(request)
    if not viewer.is_admin:
        raise Refused("forbidden")
    return viewer



def _correct_fields() -> str:
    return _("Rien n'a été enregistré. Corrigez ce qui est signalé ci-dessous, puis recommencez.")


def _common() -> dict[str, Any]:
    return {"rules": forms.RULES, "site_rules": forms.SITE_RULES, "site_kinds": forms.SITE_KINDS,
            "machine_kinds": forms.MACHINE_KINDS, "machine_statuses": forms.MACHINE_STATUSES, "roles": forms.ROLES}


async def _sites_page(request: Request, *, status: int = 200, error: str = "", errors: dict | None = None,
                      form: dict | None = None, done: str = "") -> Template:
    counts: dict[str, int] = defaultdict(int)
    for machine in await network.list_machines():
        counts[machine["site_slug"]] += 1
    return page(request, "manage_sites.html", status=status, sites=await network.list_sites(),
                counts=counts, error=error, errors=errors or {}, form=form or NEW_SITE, done=done,
                **_common())


async def _site_page(request: Request, slug: str, *, status: int = 200, error: str = "",
                     errors: dict | None = None, form: dict | None = None, hours_error: str = "",
                     hours_errors: dict | None = None, week: list | None = None, done: str = "") -> Template:
    site = await network.get_site(slug)
    if week is None:
        week = forms.week_from_rows(await network.opening_rows(site["id"]))
    return page(request, "manage_site.html", status=status, site=site, form=form or site, error=error,
                errors=errors or {}, week=week, hours_error=hours_error, hours_errors=hours_errors or {},
                done=done, **_common())


async def _machines_page(request: Request, *, status: int = 200, error: str = "", errors: dict | None = None,
                         form: dict | None = None, done: str = "", failed: int | None = None,
                         failed_error: str = "") -> Template:
    by_site: dict[str, list] = defaultdict(list)
    for machine in await network.list_machines():
        by_site[machine["site_slug"]].append(machine)
    return page(request, "manage_machines.html", status=status, sites=await network.list_sites(),
                by_site=by_site, trainings=await training.list_trainings(), error=error,
                errors=errors or {}, form=form or {}, done=done, failed=failed,
                failed_error=failed_error, **_common())


async def _trainings_page(request: Request, *, status: int = 200, error: str = "", errors: dict | None = None,
                          form: dict | None = None, done: str = "") -> Template:
    return page(request, "manage_trainings.html", status=status, trainings=await training.list_trainings(),
                error=error, errors=errors or {}, form=form or {}, done=done, **_common())


async def _people(text: str) -> list[dict[str, Any]]:
    """Accounts matching ``text``, each with the sites the person works at."""
    ids = await accounts.search_accounts(text)
    if not ids:
        return []
    rows = await Account.select(Account.id, Account.username, Account.display_name, Account.role,
                                Account.active).where(Account.id.is_in(ids))
    sites: dict[int, list[str]] = defaultdict(list)
    for staff in await Staff.select(Staff.account, Staff.site.name.as_alias("site_name")).where(
            Staff.account.is_in(ids)).order_by(Staff.site.name):
        sites[staff["account"]].append(staff["site_name"])
    by_id = {row["id"]: {**row, "sites": sites[row["id"]]} for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _users_page(request: Request, q: str = "", *, status: int = 200, error: str = "",
                      errors: dict | None = None, form: dict | None = None) -> Template:
    return page(request, "manage_users.html", "_manage_people.html", status=status, q=q,
                people=await _people(q), sites=await network.list_sites(), error=error,
                errors=errors or {}, form=form or {"role": "maker"}, **_common())


async def _user_page(request: Request, account_id: int, *, status: int = 200, error: str = "",
                     errors: dict | None = None, form: dict | None = None, done: str = "") -> Template:
    account = await Account.select(Account.id, Account.username, Account.display_name, Account.email,
                                   Account.role, Account.active).where(Account.id == account_id).first()
    if account is None:
        raise Refused.not_found(f"la personne n° {account_id}", f"person #{account_id}")
    works_at = await Staff.select(Staff.site.slug.as_alias("slug")).where(Staff.account == account_id)
    current = {"role": account["role"], **{f"site-{s['slug']}": "on" for s in works_at}}
    return page(request, "manage_user.html", status=status, account=account, form=form or current,
                sites=await network.list_sites(), error=error, errors=errors or {}, done=done, **_common())


class ManagePages(Controller):
    path = "/manage"
    include_in_schema = False

    @get("/")
    async def overview(self, request: Request) -> Template:
        admin_viewer(request)
        counts = {"sites": len(await network.list_sites()), "machines": await Machine.count(),
                  "trainings": await Training.count(), "people": await Account.count()}
        return page(request, "manage.html", counts=counts)

    # --- sites and their opening hours ------------------------------------------------

    @get("/sites")
    async def sites(self, request: Request, done: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _sites_page(request, done=done)

    @post("/sites")
    async def create_site(self, request: Request, data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        values, errors = forms.site_values(data)
        slug = forms.read_slug(data, errors)
        if errors:
            return await _sites_page(request, status=422, error=_correct_fields(), errors=errors, form=data)
        try:
            await network.create_site(viewer, slug, values)
        except Refused as refused:
            return await _sites_page(request, status=refused.status, error=refusal_text(request, refused),
                                     errors={"slug": ""} if refused.code == "slug_taken" else {}, form=data)
        return go(request, f"/manage/sites/{slug}?done=created")

    @get("/sites/{slug:str}")
    async def site(self, request: Request, slug: FromPath[str], done: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _site_page(request, slug, done=done)

    @post("/sites/{slug:str}")
    async def update_site(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        values, errors = forms.site_values(data)
        rules, rule_errors = forms.rule_values(data)
        errors |= rule_errors
        if errors:
            return await _site_page(request, slug, status=422, error=_correct_fields(), errors=errors, form=data)
        try:
            await network.update_site(viewer, slug, {**values, **rules})
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _site_page(request, slug, status=refused.status, error=refusal_text(request, refused),
                                    form=data)
        return go(request, f"/manage/sites/{slug}?done=saved")

    @post("/sites/{slug:str}/hours")
    async def opening_hours(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        periods, errors = forms.opening_periods(data)
        if errors:
            return await _site_page(request, slug, status=422, hours_error=_correct_fields(),
                                    hours_errors=errors, week=forms.week_from_form(data))
        try:
            await network.replace_opening_hours(viewer, slug, periods)
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _site_page(request, slug, status=refused.status, week=forms.week_from_form(data),
                                    hours_error=refusal_text(request, refused))
        return go(request, f"/manage/sites/{slug}?done=hours#hours")

    # --- machines -------------------------------------------------------------------------

    @get("/machines")
    async def machines(self, request: Request, done: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _machines_page(request, done=done)

    @post("/machines")
    async def create_machine(self, request: Request, data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        values, errors = forms.machine_values(data)
        slug = forms.read_slug(data, errors)
        if not data.get("site"):
            errors["site"] = _("Choisissez le lieu de la machine.")
        if errors:
            return await _machines_page(request, status=422, error=_correct_fields(), errors=errors, form=data)
        try:
            machine = await network.create_machine(viewer, data["site"], slug, values)
        except Refused as refused:
            return await _machines_page(request, status=refused.status, error=refusal_text(request, refused),
                                        errors={"slug": ""} if refused.code == "slug_taken" else {}, form=data)
        return go(request, f"/manage/machines?done=created#machine-{machine['id']}")

    @post("/machines/{machine_id:int}")
    async def update_machine(self, request: Request, machine_id: FromPath[int], data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        await network.get_machine(machine_id)
        values, errors = forms.machine_changes(data)
        if errors:
            return await _machines_page(request, status=422, failed=machine_id,
                                        failed_error=" ".join(errors.values()))
        try:
            await network.update_machine(viewer, machine_id, values)
        except Refused as refused:
            return await _machines_page(request, status=refused.status, failed=machine_id,
                                        failed_error=refusal_text(request, refused))
        return go(request, f"/manage/machines?done=saved#machine-{machine_id}")

    # --- trainings ------------------------------------------------------------------------

    @get("/trainings")
    async def trainings(self, request: Request, done: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _trainings_page(request, done=done)

    @post("/trainings")
    async def create_training(self, request: Request, data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        values, errors = forms.training_values(data)
        if errors:
            return await _trainings_page(request, status=422, error=_correct_fields(), errors=errors, form=data)
        try:
            await training.create_training(viewer, values["slug"], values["name"], values["description"],
                                           values["unlocks_kinds"])
        except Refused as refused:
            return await _trainings_page(request, status=refused.status, error=refusal_text(request, refused),
                                         errors={"slug": ""} if refused.code == "slug_taken" else {}, form=data)
        return go(request, f"/manage/trainings?done=created#training-{values['slug']}")

    # --- people ---------------------------------------------------------------------------

    @get("/users")
    async def users(self, request: Request, q: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _users_page(request, q)

    @post("/users")
    async def create_user(self, request: Request, data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        values, errors = forms.account_values(data)
        if errors:
            return await _users_page(request, status=422, error=_correct_fields(), errors=errors, form=data)
        try:
            account = await accounts.create_account(accounts.NewAccount(**values), created_by=viewer)
        except Refused as refused:
            return await _users_page(request, status=refused.status, error=refusal_text(request, refused), form=data)
        return go(request, f"/manage/users/{account.id}?done=created")

    @get("/users/{account_id:int}")
    async def user(self, request: Request, account_id: FromPath[int], done: FromQuery[str] = "") -> Template:
        admin_viewer(request)
        return await _user_page(request, account_id, done=done)

    @post("/users/{account_id:int}")
    async def set_role(self, request: Request, account_id: FromPath[int], data: Form) -> Response | Template:
        viewer = admin_viewer(request)
        errors: dict[str, str] = {}
        role, sites = forms.role_choice(data, errors)
        if errors:
            return await _user_page(request, account_id, status=422, error=_correct_fields(), errors=errors,
                                    form=data)
        try:
            await accounts.set_role(viewer, account_id, role, sites)
        except Refused as refused:
            if refused.code == "not_found" and not await Account.exists().where(Account.id == account_id):
                raise
            return await _user_page(request, account_id, status=refused.status, form=data,
                                    error=refusal_text(request, refused))
        if account_id == viewer.account_id and role != "admin":
            return go(request, "/me/account")  # no longer a network admin: these pages are closed
        return go(request, f"/manage/users/{account_id}?done=role")
