"""The categories a resident can report, with their extra questions."""
from models import Category, db
from service.api.blueprint import ApiBlueprint
from service.api.schemas import CategorySchema

blp = ApiBlueprint("categories", __name__, description="Natures de signalement")


@blp.get("/categories")
@blp.response(200, CategorySchema(many=True))
def list_categories():
    return db.session.execute(
        db.select(Category).where(Category.active).order_by(Category.priority, Category.code)).scalars().all()
