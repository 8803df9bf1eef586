"""Console forms (Flask-WTF: each carries its CSRF token); labels are French."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

TEXT_MAX = 4000


class ActionForm(FlaskForm):
    """Acknowledge, accept a transfer, split…: nothing but the CSRF token and an optional comment."""
    text = TextAreaField("Commentaire (facultatif)", validators=[Optional(), Length(max=TEXT_MAX)])


class ReasonForm(FlaskForm):
    text = TextAreaField("Motif", validators=[DataRequired(message="Le motif est obligatoire."), Length(max=TEXT_MAX)])


class NoteForm(FlaskForm):
    text = TextAreaField("Note interne (non visible du résident)",
                         validators=[DataRequired(message="La note est vide."), Length(max=TEXT_MAX)])


class ResolveForm(FlaskForm):
    outcome_code = SelectField("Issue", validators=[DataRequired(message="Choisissez une issue.")], choices=[])
    text = TextAreaField("Commentaire (facultatif)", validators=[Optional(), Length(max=TEXT_MAX)])


class TransferForm(FlaskForm):
    target_unit = SelectField("Unité destinataire", validators=[DataRequired(message="Choisissez une unité.")],
                              choices=[])
    text = TextAreaField("Motif du transfert",
                         validators=[DataRequired(message="Le motif est obligatoire."), Length(max=TEXT_MAX)])


class MergeForm(FlaskForm):
    other_report = SelectField("Regrouper avec le signalement", validators=[DataRequired()], choices=[])


class RevealContactForm(FlaskForm):
    reason = StringField("Motif de la consultation", validators=[Optional(), Length(max=500)])


class IncidentActionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    outcome_code = SelectField("Issue", validators=[Optional()], choices=[])
    text = TextAreaField("Commentaire / motif", validators=[Optional(), Length(max=TEXT_MAX)])


class AccountForm(FlaskForm):
    email = StringField("Adresse électronique", validators=[DataRequired(), Length(max=254)])
    display_name = StringField("Nom affiché", validators=[Optional(), Length(max=200)])
    role = SelectField("Rôle", choices=["agent", "superviseur", "admin"])
    unit_code = StringField("Code de l'unité (ex. PN-75104)", validators=[Optional(), Length(max=64)])
    password = PasswordField("Mot de passe (12 caractères au moins)",
                             validators=[DataRequired(), Length(min=12, max=512)])
