"""What refusals of the projects domain say, French first, English too (merged into
fabbooking.messages.MESSAGES; keys are the API's stable codes)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "project_members_only": (
        "Seules les personnes du projet (propriétaires et collaborateurs) peuvent le modifier.",
        "Only the project's people (owners and collaborators) can change it.",
    ),
    "project_owners_only": (
        "Seuls les propriétaires du projet peuvent faire cela (licence, visibilité, membres, "
        "suppression). Demandez-leur.",
        "Only the project's owners can do this (licence, visibility, members, deleting). Ask them.",
    ),
    "project_title_missing": (
        "Donnez un titre au projet.",
        "Give the project a title.",
    ),
    "project_bad_choice": (
        "La valeur choisie pour « {field} » n'existe pas. Choisissez-en une dans la liste.",
        "The value chosen for “{field}” does not exist. Choose one from the list.",
    ),
    "too_many_tags": (
        "Au plus {limit} mots-clés par projet. Gardez les plus parlants.",
        "At most {limit} tags per project. Keep the most telling ones.",
    ),
    "project_member_unknown": (
        "Personne ne s'appelle « {username} » sur le réseau. Vérifiez le nom d'utilisateur.",
        "Nobody is called “{username}” on the network. Check the username.",
    ),
    "project_last_owner": (
        "Un projet garde au moins un propriétaire. Ajoutez d'abord un autre propriétaire.",
        "A project keeps at least one owner. Add another owner first.",
    ),
    "file_too_big": (
        "Ce fichier est trop gros : {megabytes} Mo au plus. Réduisez-le ou choisissez-en un autre.",
        "This file is too big: {megabytes} MB at most. Make it smaller or choose another one.",
    ),
    "upload_too_big": (
        "L'envoi est trop gros : {megabytes} Mo au plus en une fois. Envoyez les fichiers en "
        "plusieurs fois, ou réduisez-les.",
        "The upload is too big: {megabytes} MB at most at once. Send the files in several goes, "
        "or make them smaller.",
    ),
    "too_many_files": (
        "Un projet a au plus {limit} photos et fichiers. Supprimez-en avant d'en ajouter.",
        "A project has at most {limit} photos and files. Delete some before adding more.",
    ),
    "too_many_files_in_step": (
        "Une étape a au plus {limit} photos et fichiers. Créez une nouvelle étape pour les autres.",
        "A step has at most {limit} photos and files. Make a new step for the others.",
    ),
    "project_full": (
        "Ce projet a atteint {megabytes} Mo de fichiers. Supprimez-en avant d'en ajouter.",
        "This project has reached {megabytes} MB of files. Delete some before adding more.",
    ),
    "bad_image": (
        "Cette image est abîmée ou incomplète. Exportez-la de nouveau (JPEG, PNG, WebP ou GIF).",
        "This image is damaged or incomplete. Export it again (JPEG, PNG, WebP or GIF).",
    ),
    "image_too_large": (
        "Cette photo est trop grande : {megapixels} mégapixels au plus, par exemple 7 000 × 5 000 "
        "pixels. Réduisez-la (l'option « taille » de l'appareil photo ou de l'outil d'images), "
        "puis envoyez-la de nouveau.",
        "This photo is too large: {megapixels} megapixels at most, for example 7,000 × 5,000 "
        "pixels. Make it smaller (the « size » option of the camera or of a picture tool), then "
        "send it again.",
    ),
    "zip_too_big": (
        "Ce fichier 3MF se décompresse en plus de {megabytes} Mo. Simplifiez le modèle.",
        "This 3MF file unpacks to more than {megabytes} MB. Simplify the model.",
    ),
    "unknown_file_type": (
        "Ce type de fichier n'est pas accepté. Envoyez une photo (JPEG, PNG, WebP, GIF), un "
        "modèle 3D (STL, 3MF) ou un dessin (SVG, DXF).",
        "This kind of file is not accepted. Send a photo (JPEG, PNG, WebP, GIF), a 3D model "
        "(STL, 3MF) or a drawing (SVG, DXF).",
    ),
    "no_file": (
        "Aucun fichier reçu. Choisissez un fichier puis envoyez.",
        "No file received. Choose a file, then send.",
    ),
    "media_storage_failed": (
        "Le fichier n'a pas pu être enregistré sur le serveur. Rien n'est enregistré ; "
        "prévenez l'équipe du lieu.",
        "The file could not be kept on the server. Nothing was saved; tell the place's team.",
    ),
    "cover_must_be_image": (
        "La couverture doit être une photo (JPEG, PNG, WebP ou GIF).",
        "The cover must be a photo (JPEG, PNG, WebP or GIF).",
    ),
    "bad_step_date": (
        "La date de l'étape n'est pas comprise. Écrivez-la comme 2026-03-14.",
        "The step's date is not understood. Write it like 2026-03-14.",
    ),
    "booking_maker_not_member": (
        "Cette réservation est celle de quelqu'un qui n'est pas dans le projet. Ajoutez d'abord "
        "cette personne au projet.",
        "This booking belongs to someone who is not in the project. Add them to the project first.",
    ),
    "booking_not_attachable": (
        "Une réservation annulée ou prise pour un atelier ne compte pas pour un projet.",
        "A cancelled booking, or one held for a workshop, does not count for a project.",
    ),
    "booking_already_attached": (
        "Cette réservation compte déjà pour un autre projet. Retirez-la de l'autre projet d'abord.",
        "This booking already counts for another project. Remove it from that project first.",
    ),
    "usage_already_counted": (
        "Cette session compte déjà : sa réservation est rattachée à un projet.",
        "This session already counts: its booking is attached to a project.",
    ),
    "usage_already_attached": (
        "Cette session compte déjà pour un autre projet. Retirez-la de l'autre projet d'abord.",
        "This session already counts for another project. Remove it from that project first.",
    ),
}

# Plausible values for the parameters of each message, as the code raising it names them
# (tests/test_messages.py renders every message with them).
EXAMPLE_PARAMS: dict[str, dict[str, object]] = {
    "file_too_big": {"megabytes": 10},
    "upload_too_big": {"megabytes": 64},
    "zip_too_big": {"megabytes": 200},
    "project_full": {"megabytes": 500},
    "too_many_files": {"limit": 200},
    "too_many_files_in_step": {"limit": 20},
    "too_many_tags": {"limit": 10},
    "image_too_large": {"megapixels": 40},
    "project_bad_choice": {"field": "licence"},
    "project_member_unknown": {"username": "camille"},
}
