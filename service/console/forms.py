"""Console forms (Flask-WTF: each carries its CSRF token); labels are French."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

TEXT_MAX = 4000
MESSAGE_MAX = 2000  # service.reports.messages.TEXT_MAX


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


class MessageForm(FlaskForm):
    """A message to the resident: typed, or one of the category's canned questions (console.js copies it)."""
    canned = SelectField("Question type", validators=[Optional()], choices=[], validate_choice=False)
    text = TextAreaField("Message au résident (il voit le nom de l'unité, jamais le vôtre)",
                         validators=[DataRequired(message="Le message est vide."), Length(max=MESSAGE_MAX)])


class CannedQuestionForm(FlaskForm):
    category_code = SelectField("Nature de signalement", validators=[DataRequired()], choices=[])
    text = TextAreaField("Question", validators=[DataRequired(message="La question est vide."), Length(max=500)])
    position = IntegerField("Ordre", validators=[Optional()], default=0)


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
